"""Cost of safe alert rendering: sandboxed, escaped rendering and entity-safe splitting versus a bare baseline.

Baseline (same run): the same default templates rendered by a plain `jinja2.Environment` (no sandbox, no
escaping, no fallbacks) and a naive split every 4096 characters (which would break entities). The figures show
what the safety costs per alert.

    .venv/bin/python bench/alerting_render.py [--items 50] [--repeat 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jinja2 import Environment  # noqa: E402

from tripl_core.alerting.context import AlertItem, build_context  # noqa: E402
from tripl_core.alerting.message import MessageFormat  # noqa: E402
from tripl_core.alerting.render import default_templates, environment, render_message  # noqa: E402
from tripl_core.alerting.splitting import split_message  # noqa: E402


def _time(fn, repeat: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    items = [AlertItem(scope_type="event", scope_name=f"screen.{i}.<tap>&go", actual=float(i), expected=100.0,
                       z=-3.5, link=f"https://tripl.example/a/{i}", bucket="2026-01-01T10:00:00Z")
             for i in range(args.items)]
    ctx = build_context(rule={"name": "Checkout"}, project={"name": "Shop"}, scan={"name": "hourly"}, items=items,
                        links={"inbox": "https://tripl.example/inbox"})
    bare = Environment(trim_blocks=True, lstrip_blocks=True)
    bare.filters.update(environment(MessageFormat.plain).filters)  # the same number/percent/datetime filters
    print(f"{args.items} items, {args.repeat} repetitions; ms per alert")
    print(f"{'format':22} {'safe render':>12} {'bare jinja':>11} {'ratio':>6} {'chars':>6} {'safe split':>11} "
          f"{'naive split':>12}")
    for fmt in MessageFormat:
        message_src, items_src = default_templates(fmt)
        msg_t, item_t = bare.from_string(message_src), bare.from_string(items_src)

        def baseline(msg_t=msg_t, item_t=item_t) -> str:
            lines = "\n".join(item_t.render(**ctx, item=i, index=n) for n, i in enumerate(ctx["items"], 1))
            return msg_t.render(**ctx, items_text=lines)

        safe_ms = _time(lambda fmt=fmt: render_message(ctx, fmt), args.repeat)
        bare_ms = _time(baseline, args.repeat)
        text = render_message(ctx, fmt).text
        split_ms = _time(lambda text=text, fmt=fmt: split_message(text, fmt, 4096), args.repeat)
        naive_ms = _time(lambda text=text: [text[k:k + 4096] for k in range(0, len(text), 4096)], args.repeat)
        print(f"{fmt.value:22} {safe_ms:12.2f} {bare_ms:11.2f} {safe_ms / bare_ms:6.1f} {len(text):6d} "
              f"{split_ms:11.2f} {naive_ms:12.4f}")


if __name__ == "__main__":
    main()

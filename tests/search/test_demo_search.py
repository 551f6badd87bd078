"""Search answers the demo plan well: the queries a person would type, with the results they expect first."""

from __future__ import annotations

import pytest

URL = "/api/v1/projects/demo/search"


@pytest.fixture
def demo(owner):
    r = owner.post("/api/v1/projects/demo")
    assert r.status_code == 201, r.text
    assert r.json()["slug"] == "demo"
    return owner


def top(client, q, n=3, **params):
    r = client.get(URL, params={"q": q, **params})
    assert r.status_code == 200, r.text
    return [i["title"] for i in r.json()["items"][:n]]


def test_demo_queries(demo):
    assert top(demo, "order_completed", 1) == ["order_completed"]
    assert top(demo, "payment.declined", 1) == ["payment.declined"]
    assert "order_completed" in top(demo, "ordr complted")
    assert "payment.declined" in top(demo, "card declined")
    assert "order_refunded" in top(demo, "refunds")
    assert "settings.dark_mode_switch.toggle" in top(demo, "dark mode")
    assert "app.crash" in top(demo, "crash")
    assert set(top(demo, "add to cart", 5)) >= {"product_added_to_cart", "product_detail.add_to_cart_button.tap"}
    assert top(demo, "commerce", 1, types=["event_type"]) == ["commerce"]


def test_demo_archived_and_fields(demo):
    assert "cart.remove_item.long_press" not in top(demo, "remove item", 10)
    assert "cart.remove_item.long_press" in top(demo, "remove item", 10, include_archived=True)
    assert "load_time_ms" in top(demo, "load time", 3, types=["field"])
    assert top(demo, "jira", 1, types=["meta_field"]) == ["jira"]


def test_results_follow_edits_through_the_plan_api(demo):
    event_id = demo.get(URL, params={"q": "coupon_applied"}).json()["items"][0]["id"]
    ev = "/api/v1/projects/demo/events/" + event_id
    r = demo.patch(ev, json={"name": "promo_code_redeemed", "description": "A promo code was redeemed.",
                             "status": "archived"})
    assert r.status_code == 200, r.text
    assert "coupon_applied" not in top(demo, "coupon_applied", 10, include_archived=True)
    assert "promo_code_redeemed" not in top(demo, "promo code", 5)  # archived now
    assert top(demo, "promo code", 1, include_archived=True) == ["promo_code_redeemed"]
    assert demo.delete(ev).status_code == 204
    assert "promo_code_redeemed" not in top(demo, "promo code", 5, include_archived=True)


def test_meta_values_are_searchable(demo):
    assert top(demo, "SHOP-412", 1) == ["checkout_payment"]  # its Jira ticket

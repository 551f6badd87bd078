"""The demo plan as data: event types with fields and contracts, meta fields, and events.

The demo warehouse (tripl_pipelines) generates raw rows from this same module, so keep names stable; the naming
rules are documented in docs/demo.md. Every event carries the properties its event type's `name_format` is built
from, so a scan can rebuild the event name from a raw row.
"""

from __future__ import annotations

from typing import Any

F = dict[str, Any]


def _f(name: str, ftype: str, display: str, **extra: Any) -> F:
    return {"name": name, "display_name": display, "field_type": ftype, **extra}


PLATFORM = _f("platform", "enum", "Platform", is_required=True, enum_options=["ios", "android", "web"])
APP_VERSION = _f("app_version", "string", "App version", contract_regex=r"^\d+\.\d+\.\d+$",
                 contract_required_max_null_rate=0.01)

EVENT_TYPES: list[dict[str, Any]] = [
    {"name": "screen_view", "display_name": "Screen view", "color": "#6366f1", "order": 0,
     "name_format": "{screen_name}",
     "description": "A screen became visible. One event per screen.",
     "field_definitions": [
         _f("screen_name", "string", "Screen", is_required=True, contract_regex=r"^[a-z][a-z0-9_]*$",
            contract_required_max_null_rate=0.0),
         _f("previous_screen", "string", "Previous screen", contract_required_max_null_rate=0.3),
         _f("load_time_ms", "number", "Load time (ms)", contract_min_value=0, contract_max_value=30000,
            contract_max_bad_rate=0.01),
         PLATFORM, APP_VERSION,
     ]},
    {"name": "ui_interaction", "display_name": "UI interaction", "color": "#0ea5e9", "order": 1,
     "name_format": "{screen_name}.{element}.{action}",
     "description": "A tap, swipe or toggle on an element of a screen.",
     "field_definitions": [
         _f("screen_name", "string", "Screen", is_required=True, contract_regex=r"^[a-z][a-z0-9_]*$"),
         _f("element", "string", "Element", is_required=True, contract_regex=r"^[a-z][a-z0-9_]*$"),
         _f("action", "enum", "Action", is_required=True, enum_options=["tap", "swipe", "long_press", "toggle"]),
         _f("element_position", "number", "Position in list", contract_min_value=0, contract_max_value=500),
         PLATFORM, APP_VERSION,
     ]},
    {"name": "commerce", "display_name": "Commerce", "color": "#10b981", "order": 2,
     "name_format": "{commerce_event}",
     "description": "Shopping funnel: products, cart, checkout, orders.",
     "field_definitions": [
         _f("commerce_event", "string", "Commerce event", is_required=True),
         _f("product_id", "string", "Product", contract_regex=r"^SKU-\d{6}$", contract_max_bad_rate=0.001),
         _f("price", "number", "Unit price", sensitivity="financial", contract_min_value=0,
            contract_max_value=10000),
         _f("currency", "enum", "Currency", enum_options=["USD", "EUR", "GBP"], contract_max_bad_rate=0),
         _f("quantity", "number", "Quantity", contract_min_value=1, contract_max_value=99),
         _f("order_id", "string", "Order", contract_regex=r"^ORD-[0-9A-F]{8}$"),
         _f("revenue", "number", "Revenue", sensitivity="financial", contract_min_value=0),
         _f("coupon_code", "string", "Coupon"),
         PLATFORM,
     ]},
    {"name": "lifecycle", "display_name": "Lifecycle", "color": "#f59e0b", "order": 3,
     "name_format": "{lifecycle_event}",
     "description": "Install, open, background, sign-up and login of the app and its users.",
     "field_definitions": [
         _f("lifecycle_event", "string", "Lifecycle event", is_required=True),
         _f("session_id", "string", "Session", contract_required_max_null_rate=0.0),
         _f("user_id", "string", "User", sensitivity="pii"),
         _f("is_first_launch", "boolean", "First launch"),
         _f("push_enabled", "boolean", "Push enabled"),
         PLATFORM, APP_VERSION,
     ]},
    {"name": "error", "display_name": "Error", "color": "#ef4444", "order": 4,
     "name_format": "{error_domain}.{error_code}",
     "description": "Errors the app showed or swallowed.",
     "field_definitions": [
         _f("error_domain", "enum", "Domain", is_required=True, enum_options=["network", "payment", "api", "app"]),
         _f("error_code", "string", "Code", is_required=True),
         _f("error_message", "string", "Message", contract_required_max_null_rate=0.5),
         _f("http_status", "number", "HTTP status", contract_min_value=100, contract_max_value=599),
         _f("is_fatal", "boolean", "Fatal"),
         PLATFORM,
     ]},
]

META_FIELDS: list[dict[str, Any]] = [
    {"name": "team", "display_name": "Owning team", "field_type": "enum", "order": 0,
     "enum_options": ["growth", "core", "checkout", "platform"], "default_value": "core"},
    {"name": "jira", "display_name": "Jira ticket", "field_type": "string", "order": 1,
     "link_template": "https://jira.example.com/browse/{value}"},
    {"name": "spec_url", "display_name": "Spec", "field_type": "url", "order": 2},
    {"name": "launched_on", "display_name": "Launched on", "field_type": "date", "order": 3},
    {"name": "gdpr_reviewed", "display_name": "GDPR reviewed", "field_type": "boolean", "order": 4,
     "default_value": "false"},
]

ALL_PLATFORMS = "ios"  # every demo event is declared for the mobile app; the warehouse also sends android/web


def _screen(name: str, desc: str, status: str, tags: list[str], team: str = "core", **vals: Any) -> F:
    return {"type": "screen_view", "name": name, "description": desc, "status": status, "tags": tags,
            "values": {"screen_name": name, "platform": ALL_PLATFORMS, **vals}, "meta": {"team": team}}


def _ui(screen: str, element: str, action: str, desc: str, status: str, tags: list[str], team: str = "core") -> F:
    return {"type": "ui_interaction", "name": f"{screen}.{element}.{action}", "description": desc,
            "status": status, "tags": tags, "meta": {"team": team},
            "values": {"screen_name": screen, "element": element, "action": action, "platform": ALL_PLATFORMS}}


def _commerce(name: str, desc: str, status: str, tags: list[str], **vals: Any) -> F:
    return {"type": "commerce", "name": name, "description": desc, "status": status, "tags": ["commerce", *tags],
            "values": {"commerce_event": name, "platform": ALL_PLATFORMS, "currency": "USD", **vals},
            "meta": {"team": "checkout"}, "breakdowns": ["currency", "platform"]}


def _life(name: str, desc: str, status: str, tags: list[str], **vals: Any) -> F:
    return {"type": "lifecycle", "name": name, "description": desc, "status": status, "tags": tags,
            "values": {"lifecycle_event": name, "platform": ALL_PLATFORMS, **vals}, "meta": {"team": "platform"}}


def _error(domain: str, code: str, desc: str, status: str, fatal: bool = False, http: int | None = None) -> F:
    vals: dict[str, Any] = {"error_domain": domain, "error_code": code, "platform": ALL_PLATFORMS,
                            "is_fatal": fatal}
    if http is not None:
        vals["http_status"] = http
    return {"type": "error", "name": f"{domain}.{code}", "description": desc, "status": status,
            "tags": ["reliability"], "values": vals, "meta": {"team": "platform"}}


EVENTS: list[F] = [
    _screen("home", "Home feed with recommendations.", "live", ["core", "funnel"]),
    _screen("search", "Search entry screen.", "live", ["core", "discovery"]),
    _screen("search_results", "Results for a query.", "live", ["discovery", "funnel"]),
    _screen("category", "A category's product grid.", "live", ["discovery"]),
    _screen("product_list", "Products of a collection.", "live", ["discovery"]),
    _screen("product_detail", "One product with gallery and reviews.", "live", ["funnel", "commerce"]),
    _screen("cart", "The shopping cart.", "live", ["funnel", "commerce"], team="checkout"),
    _screen("checkout_shipping", "Shipping address and method.", "live", ["funnel", "checkout"], team="checkout"),
    _screen("checkout_payment", "Payment method.", "live", ["funnel", "checkout"], team="checkout"),
    _screen("order_confirmation", "Thank-you screen after an order.", "live", ["funnel", "checkout"],
            team="checkout"),
    _screen("profile", "The user's profile.", "implemented", ["account"]),
    _screen("settings", "App settings.", "live", ["account"]),
    _screen("login", "Login form.", "live", ["account", "onboarding"], team="growth"),
    _screen("signup", "Sign-up form.", "live", ["account", "onboarding"], team="growth"),
    _screen("onboarding_welcome", "First screen of onboarding.", "ready_for_dev", ["onboarding"], team="growth"),
    _screen("wishlist", "Saved products.", "in_review", ["commerce"], team="growth"),
    _screen("order_history", "Past orders (old design).", "deprecated", ["account"]),
    _ui("home", "banner", "tap", "Tap on the hero banner.", "live", ["core", "merchandising"], team="growth"),
    _ui("home", "recommendation_card", "tap", "Tap on a recommended product.", "live", ["discovery"]),
    _ui("home", "carousel", "swipe", "Swipe through the carousel.", "implemented", ["discovery"]),
    _ui("search", "search_bar", "tap", "Focus the search bar.", "live", ["discovery"]),
    _ui("search_results", "filter_chip", "toggle", "Toggle a filter.", "live", ["discovery"]),
    _ui("product_detail", "add_to_cart_button", "tap", "Add to cart button.", "live", ["funnel", "commerce"],
        team="checkout"),
    _ui("product_detail", "wishlist_button", "tap", "Save to wishlist.", "in_review", ["commerce"], team="growth"),
    _ui("product_detail", "image_gallery", "swipe", "Swipe product images.", "draft", ["commerce"]),
    _ui("cart", "checkout_button", "tap", "Start checkout from the cart.", "live", ["funnel", "checkout"],
        team="checkout"),
    _ui("cart", "remove_item", "long_press", "Remove an item (old gesture).", "archived", ["checkout"],
        team="checkout"),
    _ui("settings", "dark_mode_switch", "toggle", "Dark mode on/off.", "live", ["account"]),
    _commerce("product_viewed", "A product detail was viewed.", "live", ["funnel"]),
    _commerce("product_added_to_cart", "A product was added to the cart.", "live", ["funnel"]),
    _commerce("product_removed_from_cart", "A product was removed from the cart.", "live", []),
    _commerce("cart_viewed", "The cart was viewed.", "live", ["funnel"]),
    _commerce("checkout_started", "Checkout began.", "live", ["funnel", "checkout"]),
    _commerce("payment_info_entered", "Payment details were submitted.", "implemented", ["checkout"]),
    _commerce("order_completed", "An order was placed.", "live", ["funnel", "checkout", "revenue"]),
    _commerce("order_refunded", "An order was refunded.", "ready_for_dev", ["revenue"]),
    _commerce("coupon_applied", "A coupon was applied.", "draft", ["growth"]),
    _life("app_installed", "First open after install.", "live", ["growth"], is_first_launch=True),
    _life("app_opened", "The app came to the foreground.", "live", ["core"]),
    _life("app_backgrounded", "The app went to the background.", "live", ["core"]),
    _life("app_updated", "First open after an update.", "implemented", ["core"]),
    _life("push_permission_granted", "The user allowed notifications.", "live", ["growth"], push_enabled=True),
    _life("user_signed_up", "An account was created.", "live", ["growth", "onboarding"]),
    _life("user_logged_in", "A user logged in.", "live", ["account"]),
    _life("user_logged_out", "A user logged out.", "in_review", ["account"]),
    _error("network", "timeout", "A request timed out.", "live", http=408),
    _error("network", "offline", "The device is offline.", "live"),
    _error("payment", "declined", "The card was declined.", "live", http=402),
    _error("payment", "three_ds_failed", "3-D Secure failed.", "implemented"),
    _error("api", "server_error", "The API answered 5xx.", "live", http=500),
    _error("api", "unauthorized", "The session expired.", "live", http=401),
    _error("app", "crash", "The app crashed.", "live", fatal=True),
]

JIRA = {"checkout_payment": "SHOP-412", "order_completed": "SHOP-118", "coupon_applied": "SHOP-977",
        "wishlist": "GROW-31", "onboarding_welcome": "GROW-55", "payment.three_ds_failed": "PAY-7"}

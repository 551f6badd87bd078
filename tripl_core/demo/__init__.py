"""The demo project: a realistic mobile shop plan that the demo warehouse's synthetic events match."""

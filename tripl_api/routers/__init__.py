"""One router module per reference tag; `tripl_api.app` includes every module that defines `router`."""

"""Pydantic request/response models, one module per reference tag."""

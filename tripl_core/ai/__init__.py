"""AI assistance through any OpenAI-compatible endpoint: describe plan items, answer questions, explain alerts.

Off by default (`ai_enabled`); every knob (endpoint, model, key, prompts) is a run-time service setting.
"""

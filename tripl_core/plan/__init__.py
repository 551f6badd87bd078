"""Plan rules: branches, event types, fields, owners, meta fields, events, ordering, filters, history."""

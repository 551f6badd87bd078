"""The rest of the tracking plan: variables, relations, chart annotations, event photos and photo comments."""

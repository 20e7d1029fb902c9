"""Fleet: many bidders sharing budgets, caps, tags and plans through Redis (docs/fleet.md)."""

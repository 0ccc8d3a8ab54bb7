"""The node agent: registers with the controller, launches jobs as their users, reports back."""

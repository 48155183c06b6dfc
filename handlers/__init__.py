"""Lambda handlers: the orchestrator, the TaskSmith agent and the code they share."""

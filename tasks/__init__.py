"""The task domain: the Task and its files, outputs, agent runs and idempotency records, its
lifecycle, the task API's schemas, the service the gateway calls, the task reads and usage."""

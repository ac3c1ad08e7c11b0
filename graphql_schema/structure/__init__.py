"""The structure of tasks in projects: sections, subtasks, manual order and moves."""

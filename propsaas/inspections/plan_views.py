"""Inspection plan and task pages (巡检计划与任务): filled in by the plans work."""

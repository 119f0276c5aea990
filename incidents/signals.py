"""Signals other apps hook into (dispatch, the live console). Both are sent after commit.

report_changed(sender=Report, report, event, created)   every change written by lifecycle/intake
report_routed(sender=Report, report)                     the report reached status `routed`
"""

from django.dispatch import Signal

report_changed = Signal()
report_routed = Signal()

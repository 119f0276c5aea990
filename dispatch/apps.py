from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = "Dispatch and orders"

    def ready(self) -> None:
        from incidents.signals import report_changed, report_closing, report_routed
        from tracking.signals import position_updated, presence_changed

        from . import orders, receivers  # noqa: F401 - orders registers its job handlers

        _grant_role_permissions()
        report_routed.connect(receivers.on_report_routed, dispatch_uid="dispatch_on_routed")
        report_changed.connect(receivers.on_report_changed, dispatch_uid="dispatch_on_report_changed")
        report_closing.connect(receivers.refuse_closing_while_held, dispatch_uid="dispatch_refuse_closing_held")
        position_updated.connect(receivers.on_position_updated, dispatch_uid="dispatch_on_position")
        presence_changed.connect(receivers.on_presence_changed, dispatch_uid="dispatch_on_presence")
        from core import relay, worker

        worker.register_sweep("awaiting", receivers.sweep_awaiting)
        if receivers.batch_facts not in relay.BATCH_SCOPES:
            relay.BATCH_SCOPES.append(receivers.batch_facts)


def _grant_role_permissions() -> None:
    """Add dispatch's permissions to the role groups (granted by the next `manage.py bootstrap`)."""
    from core.roles import ADMIN, EXTRA_ROLE_PERMISSIONS, OPERATOR, PLANNER

    extra = {
        OPERATOR: [
            "dispatch.view_order",
            "dispatch.view_decision",
            "dispatch.view_dispatchstate",
            "dispatch.view_facility",
            "dispatch.view_roomhold",
            "dispatch.change_roomhold",
        ],
        PLANNER: ["dispatch.view_order", "dispatch.view_decision", "dispatch.view_facility"],
        ADMIN: ["dispatch.*"],
    }
    for role, perms in extra.items():
        have = EXTRA_ROLE_PERMISSIONS.setdefault(role, [])
        have.extend(p for p in perms if p not in have)

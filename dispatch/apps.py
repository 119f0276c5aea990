from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = "Dispatch and orders"

    def ready(self) -> None:
        from incidents.signals import report_changed, report_routed
        from tracking.signals import position_updated, presence_changed

        from . import orders, receivers  # noqa: F401 - orders registers its job handlers

        report_routed.connect(receivers.on_report_routed, dispatch_uid="dispatch_on_routed")
        report_changed.connect(receivers.on_report_changed, dispatch_uid="dispatch_on_report_changed")
        position_updated.connect(receivers.on_position_updated, dispatch_uid="dispatch_on_position")
        presence_changed.connect(receivers.on_presence_changed, dispatch_uid="dispatch_on_presence")

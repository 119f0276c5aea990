"""Response shapes of the planning API, for the OpenAPI schema (the view returns `Stats.as_dict()`)."""

from rest_framework import serializers


class MetricsSerializer(serializers.Serializer):
    reports = serializers.IntegerField(help_text="reports created in the period matching the filters")
    share_pct = serializers.FloatField(help_text="reports / all matching reports in the city, %")
    previous = serializers.IntegerField(help_text="reports in the previous period of the same length")
    change = serializers.IntegerField(help_text="reports - previous")
    change_pct = serializers.FloatField(allow_null=True, help_text="%, null when previous = 0")
    dispatched = serializers.IntegerField()
    dispatch_median_min = serializers.FloatField(allow_null=True, help_text="minutes from report to dispatch")
    dispatch_p90_min = serializers.FloatField(allow_null=True)
    dispatch_over_target_pct = serializers.FloatField(allow_null=True, help_text="% of dispatched over target")
    resolved = serializers.IntegerField()
    resolve_median_min = serializers.FloatField(allow_null=True, help_text="minutes from report to resolved")
    resolve_p90_min = serializers.FloatField(allow_null=True)
    resolve_over_target_pct = serializers.FloatField(allow_null=True, help_text="% of resolved over target")


class CityMetricsSerializer(MetricsSerializer):
    unplaced = serializers.IntegerField(help_text="reports outside every kecamatan")


class AreaMetricsSerializer(MetricsSerializer):
    code = serializers.CharField()
    name = serializers.CharField()
    area_km2 = serializers.FloatField()
    per_km2 = serializers.FloatField(allow_null=True)


class KelurahanMetricsSerializer(AreaMetricsSerializer):
    kecamatan_code = serializers.CharField()


class CategoryMetricsSerializer(MetricsSerializer):
    code = serializers.CharField()
    name = serializers.CharField()
    opd = serializers.CharField()
    target_dispatch_min = serializers.IntegerField()
    target_resolve_min = serializers.IntegerField()


class OPDMetricsSerializer(MetricsSerializer):
    code = serializers.CharField()
    name = serializers.CharField()


class HourMetricsSerializer(MetricsSerializer):
    hour = serializers.IntegerField(help_text="hour of day, WIB (0-23)")


class WeekdayMetricsSerializer(MetricsSerializer):
    isodow = serializers.IntegerField(help_text="1 = Monday ... 7 = Sunday")
    day = serializers.CharField()


class PeriodSerializer(serializers.Serializer):
    from_ = serializers.DateField(help_text="first day, inclusive")
    to = serializers.DateField(help_text="last day, inclusive")
    days = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="exclusive")
    previous_from = serializers.DateField()
    timezone = serializers.CharField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class FiltersSerializer(serializers.Serializer):
    category = serializers.ListField(child=serializers.CharField())
    opd = serializers.ListField(child=serializers.CharField())
    status = serializers.ListField(child=serializers.CharField())
    channel = serializers.ListField(child=serializers.CharField())
    kecamatan = serializers.ListField(child=serializers.CharField())


class PlanningStatsSerializer(serializers.Serializer):
    period = PeriodSerializer()
    filters = FiltersSerializer()
    generated_at = serializers.DateTimeField()
    city = CityMetricsSerializer()
    kecamatan = AreaMetricsSerializer(many=True)
    kelurahan = KelurahanMetricsSerializer(many=True)
    category = CategoryMetricsSerializer(many=True)
    opd = OPDMetricsSerializer(many=True)
    hour_of_day = HourMetricsSerializer(many=True)
    day_of_week = WeekdayMetricsSerializer(many=True)
    kecamatan_category = serializers.ListField(
        child=serializers.DictField(), help_text="per kecamatan: code, name, one count per category code, total"
    )

from django.urls import path

from . import views, views_operators, views_rooms, views_stats

urlpatterns = [
    # the supervisor's phone (device token or the supervisor's own account)
    path("api/my/orders/", views.MyOrders.as_view(), name="my-orders"),
    path("api/my/orders/<int:pk>/acknowledge/", views.Acknowledge.as_view(), name="order-acknowledge"),
    path("api/my/orders/<int:pk>/decline/", views.Decline.as_view(), name="order-decline"),
    path("api/my/orders/<int:pk>/en-route/", views.EnRoute.as_view(), name="order-en-route"),
    path("api/my/orders/<int:pk>/on-site/", views.OnSite.as_view(), name="order-on-site"),
    path("api/my/orders/<int:pk>/hand/", views.Hand.as_view(), name="order-hand"),
    path("api/my/orders/<int:pk>/notes/", views.Note.as_view(), name="order-note"),
    path("api/my/orders/<int:pk>/resolve/", views.Resolve.as_view(), name="order-resolve"),
    # operators
    path("api/reports/<str:public_id>/dispatch/", views_operators.ReportDispatch.as_view(), name="report-dispatch"),
    path("api/reports/<str:public_id>/reassign/", views_operators.Reassign.as_view(), name="report-reassign"),
    path("api/reports/<str:public_id>/cancel/", views_operators.Cancel.as_view(), name="report-cancel"),
    path("api/reports/<str:public_id>/refer/", views_operators.Refer.as_view(), name="report-refer"),
    path("api/reports/<str:public_id>/room/", views_rooms.ProposeRoom.as_view(), name="report-room"),
    path("api/dispatch/queue/", views_operators.Queue.as_view(), name="dispatch-queue"),
    path("api/orders/", views_operators.OrderList.as_view(), name="order-list"),
    path("api/orders/<int:pk>/steps/", views_operators.OrderSteps.as_view(), name="order-steps"),
    path("api/room-holds/<int:pk>/confirm/", views_rooms.ConfirmRoom.as_view(), name="room-confirm"),
    path("api/room-holds/<int:pk>/release/", views_rooms.ReleaseRoom.as_view(), name="room-release"),
    # facility staff
    path("api/facilities/", views_rooms.FacilityList.as_view(), name="facility-list"),
    path("api/facilities/<int:pk>/rooms/", views_rooms.FacilityRooms.as_view(), name="facility-rooms"),
    # statistics
    path("api/stats/response-times/", views_stats.ResponseTimes.as_view(), name="stats-response-times"),
]

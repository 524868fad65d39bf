from django.urls import path

from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>
from painclinic.web.scheduling import views

app_name = "scheduling"
urlpatterns = [
    path("board/", views.board, name="board"),
    path("board/grid/", views.board_grid, name="board_grid"),
    path("chairs/", views.chairs, name="chairs"),
    path("chairs/<id:chair_id>/", views.chair_edit, name="chair_edit"),
    path("patients/<id:patient_id>/", views.patient, name="patient"),
    path("plans/<id:plan_id>/book/", views.book_series, name="book_series"),
    path("bookings/<id:booking_id>/", views.booking, name="booking"),
]

from django.urls import path

from painclinic.web.scheduling import views

app_name = "scheduling"
urlpatterns = [
    path("board/", views.board, name="board"),
    path("chairs/", views.chairs, name="chairs"),
    path("chairs/<int:chair_id>/", views.chair_edit, name="chair_edit"),
    path("patients/<int:patient_id>/", views.patient, name="patient"),
    path("plans/<int:plan_id>/book/", views.book_series, name="book_series"),
    path("bookings/<int:booking_id>/", views.booking, name="booking"),
]

from django.urls import path

from painclinic.web.public import views

app_name = "public"
urlpatterns = [
    path("", views.index, name="index"),
    path("chronic-pain/", views.chronic_pain, name="chronic_pain"),
    path("ketamine/", views.ketamine, name="ketamine"),
    path("ways-it-is-given/", views.routes, name="routes"),
    path("conditions/", views.conditions, name="conditions"),
    path("how-long-relief-lasts/", views.relief, name="relief"),
    path("costs/", views.costs, name="costs"),
    path("your-infusion-day/", views.infusion_day, name="infusion_day"),
]

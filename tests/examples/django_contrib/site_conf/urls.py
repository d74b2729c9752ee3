"""The project's URLs: the admin, and the gjobs dashboard under it for staff users only."""

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.urls import path, re_path

from gjobs.contrib.django.views import dashboard

urlpatterns = [
    re_path(r"^admin/gjobs/(?P<path>.*)$", staff_member_required(dashboard)),  # before the admin's own
    path("admin/", admin.site.urls),
]

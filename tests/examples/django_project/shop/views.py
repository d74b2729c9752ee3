from django.http import HttpResponseNotAllowed, JsonResponse

from shop.tasks import send_welcome


def signup(request):
    """Sign a user up; the welcome mail is sent by a worker, not while the user waits."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    job_id = send_welcome.delay(request.POST["email"], name=request.POST.get("name", ""))
    return JsonResponse({"welcome_mail": job_id}, status=202)

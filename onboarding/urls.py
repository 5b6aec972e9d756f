from django.urls import path, re_path

from onboarding.views import demo, flow, status, wallets, webhooks

app_name = "onboarding"

urlpatterns = [
    path("", flow.StartView.as_view(), name="start"),
    path("check_connection/", flow.CheckConnectionView.as_view(), name="check_connection"),
    path("check_connection/status", status.ConnectionStatusView.as_view(), name="connection_status"),
    re_path(r"^name/?$", flow.NameView.as_view(), name="name"),
    path("loading/", flow.LoadingView.as_view(), name="loading"),
    path("loading/status", status.CredentialStatusView.as_view(), name="credential_status"),
    path("loading/again/", flow.ResendOfferView.as_view(), name="resend_offer"),
    re_path(r"^success/?$", flow.SuccessView.as_view(), name="success"),
    path("restart/", flow.RestartView.as_view(), name="restart"),
    path("wallet/", wallets.ChooseWalletView.as_view(), name="choose_wallet"),
    path("wallet/change/", wallets.ChangeWalletView.as_view(), name="change_wallet"),
    path("i/<str:code>", flow.InvitationLinkView.as_view(), name="invitation"),
    path("demo/wallet/<str:token>/", demo.DemoWalletView.as_view(), name="demo_wallet"),
    path("demo/wallet/<str:token>/status", demo.DemoWalletStatusView.as_view(), name="demo_wallet_status"),
    path("webhooks/acapy/topic/<str:topic>/", webhooks.AcaPyWebhookView.as_view(), name="acapy_webhook"),
    path("webhooks/swiyu/", webhooks.SwiyuWebhookView.as_view(), name="swiyu_webhook"),
]

# The visitor's side pages: help without a wallet, the privacy notice, the event's colours.
from onboarding.views import pages  # noqa: E402

urlpatterns += [
    path("help/", pages.HelpView.as_view(), name="help"),
    path("privacy/", pages.PrivacyView.as_view(), name="privacy"),
    path("brand.css", pages.brand_css, name="brand_css"),
]

# The offer-first order (OpenID4VCI): the QR code with the offer, and the offer's short link.
from onboarding.views import offer  # noqa: E402

urlpatterns += [
    path("offer/", offer.OfferView.as_view(), name="offer"),
    path("offer/status", offer.OfferStatusView.as_view(), name="offer_status"),
    path("o/<str:code>", offer.OfferLinkView.as_view(), name="offer_link"),
]

# The line at the door while the issuer agent is busy (onboarding/throttle.py).
from onboarding.views import line  # noqa: E402

urlpatterns += [path("queue/status", line.QueueStatusView.as_view(), name="queue_status")]

# The door: staff check visitors in (onboarding/views/door.py); the demo wallet answers the demo door.
from onboarding.views import door  # noqa: E402

urlpatterns += [
    path("door/", door.DoorView.as_view(), name="door"),
    path("door/login/", door.DoorLoginView.as_view(), name="door_login"),
    path("door/logout/", door.DoorLogoutView.as_view(), name="door_logout"),
    path("door/r/<uuid:pk>/", door.DoorRequestView.as_view(), name="door_request"),
    path("door/r/<uuid:pk>/status", door.DoorStatusView.as_view(), name="door_status"),
    path("door/r/<uuid:pk>/result/", door.DoorResultView.as_view(), name="door_result"),
    path("door/checkins/<int:pk>/", door.CheckInView.as_view(), name="door_check_in"),
    path("door/checkins/<int:pk>/again/", door.AdmitAgainView.as_view(), name="door_admit_again"),
    path("door/manual/", door.ManualView.as_view(), name="door_manual"),
    path("d/<str:code>", door.DoorLinkView.as_view(), name="door_link"),
    path("demo/proof/<str:token>/", demo.DemoProofView.as_view(), name="demo_proof"),
]

"""Sign-in: username and password for an expiring bearer token."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request
from flask.views import MethodView

from workflow.accounts import users as accounts
from workflow.errors import AuthenticationFailed

from ..authorization import allow, public
from ..extensions import db
from ..request_shape import Blueprint
from ..schemas import TokenRequest, TokenResponse
from ..security import BEARER, authenticate_request, bearer_token

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in")


@blp.route("/token")
class TokenView(MethodView):
    @allow(public)  # the body is the credential
    @blp.arguments(TokenRequest)
    @blp.response(200, TokenResponse)
    @blp.alt_response(401, description="Wrong credentials or locked account")
    def post(self, body: dict) -> dict:
        """Exchange a username and password for a bearer token."""
        ttl = timedelta(hours=current_app.config["RISKLOOP_TOKEN_TTL_HOURS"])
        try:
            issued = accounts.login(
                db.session, body["username"], body["password"], ttl=ttl, source=request.remote_addr
            )
        except AuthenticationFailed:
            db.session.commit()  # keep the failed-login audit record and lockout counter
            raise
        db.session.commit()
        return {
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_at": issued.expires_at,
            "username": issued.user.username,
            "roles": issued.user.roles,
        }

    @allow(authenticate_request)  # the bearer token sent: 401 unless valid, then revoked
    @blp.doc(security=[BEARER])
    @blp.response(204)
    @blp.alt_response(401, description="Missing, unknown, expired or already revoked token")
    def delete(self) -> None:
        """Revoke the caller's own bearer token (sign out); the caller's other tokens stay valid."""
        accounts.revoke_token(db.session, bearer_token())
        db.session.commit()

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tripl_api.deps import DB, AppSettings, Viewer, client_ip
from tripl_api.schemas.auth import LoginRequest, RegisterRequest, UserResponse
from tripl_core import accounts, service_settings

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/register", summary="Register", response_model=UserResponse, status_code=201)
def register(body: RegisterRequest, db: DB, settings: AppSettings):
    eff = service_settings.effective(db)  # registration_open may be overridden at run time
    return accounts.register(db, settings, body.email, body.password, body.name,
                             registration_open=eff.registration_open)


@router.post("/login", summary="Login", response_model=UserResponse)
def login(body: LoginRequest, request: Request, response: Response, db: DB):
    settings = service_settings.effective(db).as_settings()  # session TTL, throttles, cookie_secure
    session = accounts.login(db, settings, body.email, body.password, client_ip(request),
                             request.headers.get("user-agent"))
    response.set_cookie(settings.cookie_name, session.token, max_age=session.max_age, httponly=True,
                        samesite="lax", secure=settings.session_cookie_secure, path="/")
    return session.user


@router.post("/logout", summary="Logout", status_code=204)
def logout(request: Request, db: DB, settings: AppSettings, actor: Viewer) -> Response:
    """Ends the cookie session (an API key caller has none: a no-op). Unauthenticated callers get 401."""
    accounts.logout(db, request.cookies.get(settings.cookie_name), actor)
    response = Response(status_code=204)
    response.delete_cookie(settings.cookie_name, path="/", httponly=True, samesite="lax",
                           secure=settings.session_cookie_secure)
    return response


@router.get("/me", summary="Get Me", response_model=UserResponse)
def me(actor: Viewer):
    return actor.user

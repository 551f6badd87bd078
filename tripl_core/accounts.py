"""Registration, login sessions, throttling of failed logins, user roles."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.base import utcnow
from tripl_core.db.models.auth import LoginFailure, User, UserRole, UserSession
from tripl_core.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized
from tripl_core.security import hash_password, new_token, token_hash, verify_password
from tripl_core.settings import Settings

LOGIN_FAILED = "Invalid email or password."
IP_FACTOR = 4  # an address may fail for a few people (shared office NAT) before it is throttled


def normalize_email(email: str) -> str:
    return email.strip().lower()


def register(db: Session, settings: Settings, email: str, password: str, name: str | None,
             registration_open: bool | None = None) -> User:
    """The first user owns the instance; later ones start as viewers, if registration is open."""
    email = normalize_email(email)
    has_users = db.scalar(select(func.count()).select_from(User)) > 0
    is_open = settings.registration_open if registration_open is None else registration_open
    if has_users and not is_open:
        raise Forbidden("Registration is closed on this instance; ask an owner to invite you.")
    if db.scalar(select(User.id).where(User.email == email)):
        raise Conflict("A user with this email already exists.")
    user = User(email=email, name=name, password_hash=hash_password(password),
                role=UserRole.viewer if has_users else UserRole.owner)
    db.add(user)
    db.flush()
    audit.record(db, audit.Actor(user), "user.register", "user", user.id, email,
                 after={"email": email, "role": user.role.value})
    db.commit()
    return user


@dataclass
class NewSession:
    user: User
    token: str
    max_age: int


def _throttle(db: Session, settings: Settings, email: str, ip: str) -> None:
    window = timedelta(seconds=settings.login_failure_window_seconds)
    since = utcnow() - window
    for column, value, limit in (
        (LoginFailure.email, email, settings.login_max_failures),
        (LoginFailure.ip, ip, settings.login_max_failures * IP_FACTOR),
    ):
        count, oldest = db.execute(
            select(func.count(), func.min(LoginFailure.created_at)).where(column == value,
                                                                         LoginFailure.created_at > since)
        ).one()
        if count >= limit:
            retry = max(1, math.ceil((oldest + window - utcnow()).total_seconds()))
            raise TooManyRequests("Too many failed login attempts; try again later.", retry_after=retry)


def login(db: Session, settings: Settings, email: str, password: str, ip: str,
          user_agent: str | None) -> NewSession:
    email = normalize_email(email)
    _throttle(db, settings, email, ip)
    user = db.scalar(select(User).where(User.email == email))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        db.add(LoginFailure(email=email, ip=ip))
        db.commit()
        raise Unauthorized(LOGIN_FAILED)
    db.execute(delete(LoginFailure).where(LoginFailure.email == email))
    db.execute(delete(UserSession).where(UserSession.expires_at < utcnow()))
    token = new_token()
    ttl = timedelta(hours=settings.session_ttl_hours)
    db.add(UserSession(token_hash=token_hash(token), user_id=user.id, expires_at=utcnow() + ttl, ip=ip,
                       user_agent=(user_agent or "")[:512]))
    audit.record(db, audit.Actor(user), "user.login", "session", None, email, message=f"{email} logged in")
    db.commit()
    return NewSession(user=user, token=token, max_age=int(ttl.total_seconds()))


def logout(db: Session, token: str | None, actor: audit.Actor | None = None) -> None:
    """End the session server-side, so a copied cookie stops working too."""
    if not token:
        return
    ended = db.execute(delete(UserSession).where(UserSession.token_hash == token_hash(token))).rowcount
    if ended and actor is not None:
        audit.record(db, actor, "user.logout", "session", None, actor.user.email,
                     message=f"{actor.label} logged out")
    db.commit()


def user_for_session(db: Session, token: str) -> User | None:
    row = db.get(UserSession, token_hash(token))
    if row is None or row.expires_at <= utcnow():
        return None
    return row.user


def list_users(db: Session, limit: int, offset: int) -> list[User]:
    return list(db.scalars(select(User).order_by(User.created_at, User.email).limit(limit).offset(offset)))


def update_role(db: Session, actor: audit.Actor, user_id: uuid.UUID, role: UserRole) -> User:
    user = db.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("User not found.")
    if user.role == UserRole.owner and role != UserRole.owner:
        owners = db.scalar(select(func.count()).select_from(User).where(User.role == UserRole.owner))
        if owners <= 1:
            raise Conflict("Cannot demote the last owner; promote another user to owner first.")
    before = user.role.value
    user.role = role
    audit.record(db, actor, "user.update_role", "user", user.id, user.email,
                 before={"role": before}, after={"role": role.value},
                 message=f"{actor.label} changed the role of {user.email} from {before} to {role.value}")
    db.commit()
    return user

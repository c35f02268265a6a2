"""Accounts: registration, sign-in, approval of organisations, users and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wash_ops.accounts.models import ApiToken, Organisation, OrganisationStatus, Role, User
from wash_ops.accounts.passwords import hash_password, needs_rehash, verify_password
from wash_ops.db import utcnow
from wash_ops.errors import N_, Conflict, NotFound, Problems

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "wo_"
TOKEN_ROLES = frozenset({Role.ORGANISER, Role.SUPERVISOR, Role.PLANNER, Role.ADMIN})


@dataclass(frozen=True)
class Registration:
    organisation_name: str
    name: str
    email: str
    password: str
    phone: str = ""
    vat_number: str = ""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def register_organiser(session: Session, data: Registration) -> User:
    """A new organisation (pending until a planner approves it) and its first organiser."""
    problems = Problems()
    if not data.organisation_name.strip():
        problems.add("organisation_name", N_("Enter the name of your organisation."))
    if not data.name.strip():
        problems.add("name", N_("Enter your name."))
    _check_credentials(session, data.email, data.password, problems)
    problems.raise_if_any()
    organisation = Organisation(
        name=data.organisation_name.strip(),
        phone=data.phone.strip(),
        vat_number=data.vat_number.strip(),
        status=OrganisationStatus.PENDING,
    )
    session.add(organisation)
    user = User(
        email=normalise_email(data.email),
        name=data.name.strip(),
        password_hash=hash_password(data.password),
        role=Role.ORGANISER,
        organisation=organisation,
    )
    session.add(user)
    session.flush()
    return user


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    role: Role,
    organisation: Organisation | None = None,
) -> User:
    problems = Problems()
    _check_credentials(session, email, password, problems)
    if role is Role.ORGANISER and organisation is None:
        problems.add("organisation", N_("An organiser belongs to an organisation."))
    problems.raise_if_any()
    user = User(
        email=normalise_email(email),
        name=name.strip(),
        password_hash=hash_password(password),
        role=role,
        organisation=organisation,
    )
    session.add(user)
    session.flush()
    return user


def _check_credentials(session: Session, email: str, password: str, problems: Problems) -> None:
    email = normalise_email(email)
    if not EMAIL_PATTERN.match(email) or len(email) > 254:
        problems.add("email", N_("Enter a valid e-mail address."))
    elif session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        problems.add("email", N_("An account with this e-mail address exists already."))
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.add(
            "password",
            N_("Choose a password of at least %(length)s characters."),
            length=MIN_PASSWORD_LENGTH,
        )


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None; rehashes outdated hashes."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if not verify_password(user.password_hash if user else None, password):
        return None
    if user is None or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def get_user(session: Session, user_id: int) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def pending_organisations(session: Session) -> list[Organisation]:
    return list(
        session.scalars(
            select(Organisation)
            .where(Organisation.status == OrganisationStatus.PENDING)
            .order_by(Organisation.created_at)
        )
    )


def review_organisation(
    session: Session, organisation_id: int, reviewer: User, approve: bool
) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(N_("This organisation does not exist."))
    if organisation.status is not OrganisationStatus.PENDING:
        raise Conflict(N_("This organisation has been reviewed already."))
    organisation.status = OrganisationStatus.APPROVED if approve else OrganisationStatus.REJECTED
    organisation.reviewed_at = utcnow()
    organisation.reviewed_by_id = reviewer.id
    session.flush()
    return organisation


def issue_api_token(session: Session, user: User, name: str) -> tuple[str, ApiToken]:
    """A new token; the plain text is returned once and never stored."""
    problems = Problems()
    if not name.strip():
        problems.add("name", N_("Give the token a name, such as the system that will use it."))
    if user.role not in TOKEN_ROLES:
        problems.add(None, N_("API tokens are for organisers' systems and the line's staff."))
    problems.raise_if_any()
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name.strip()[:80], prefix=plain[:10], digest=_digest(plain))
    session.add(token)
    session.flush()
    return plain, token


def revoke_api_token(session: Session, user: User, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise NotFound(N_("This token does not exist."))
    token.revoked_at = utcnow()
    session.flush()


def api_tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc())
        )
    )


def user_for_token(session: Session, plain: str, now: datetime | None = None) -> User | None:
    if not plain.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(
        select(ApiToken).where(ApiToken.digest == _digest(plain), ApiToken.revoked_at.is_(None))
    )
    if token is None or not token.user.active:
        return None
    token.last_used_at = now or utcnow()
    return token.user


def _digest(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()

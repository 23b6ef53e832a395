"""The asyncio user agent (see :class:`UserAgent`), a thin driver of :class:`sipwire.Endpoint`."""

from sipwire.ua.agent import (
    Call,
    CallFailed,
    IncomingCall,
    Registration,
    SipTimeout,
    UserAgent,
)
from sipwire.ua.auth import DigestClient
from sipwire.ua.memory import MemoryNetwork
from sipwire.ua.subscription import (
    IncomingSubscription,
    Notification,
    Notifier,
    Publication,
    Subscription,
    SubscriptionFailed,
)

__all__ = [
    "Call",
    "CallFailed",
    "DigestClient",
    "IncomingCall",
    "IncomingSubscription",
    "MemoryNetwork",
    "Notification",
    "Notifier",
    "Publication",
    "Registration",
    "SipTimeout",
    "Subscription",
    "SubscriptionFailed",
    "UserAgent",
]

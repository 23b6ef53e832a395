"""The asyncio user agent (see :class:`UserAgent`), a thin driver of :class:`sipwire.Endpoint`."""

from sipwire.ua.agent import (
    REFER_HEADERS,
    AgentClosed,
    Call,
    CallFailed,
    IncomingCall,
    Refer,
    Registration,
    SipTimeout,
    TransportFailed,
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
    "REFER_HEADERS",
    "AgentClosed",
    "Call",
    "CallFailed",
    "DigestClient",
    "IncomingCall",
    "IncomingSubscription",
    "MemoryNetwork",
    "Notification",
    "Notifier",
    "Publication",
    "Refer",
    "Registration",
    "SipTimeout",
    "Subscription",
    "SubscriptionFailed",
    "TransportFailed",
    "UserAgent",
]

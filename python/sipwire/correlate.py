"""The passive correlator: messages seen on the wire (a capture, a mirror port, a log) grouped
into transactions, dialogs and calls, with each call's media sessions.

>>> from sipwire.correlate import Correlator
>>> c = Correlator()
>>> c.feed(datagram, time=t, src=("192.0.2.1", 5060), dst=("192.0.2.2", 5060))
>>> for call in c.drain_finished():        # calls over by the capture's clock, forgotten
...     call.outcome, call.time_to_answer, [m.streams[0].codec for m in call.media]

The classes are named so that they do not collide with the user agent's ``sipwire.Call``.
"""

from sipwire._sipwire import (
    CorrelatedCall,
    CorrelatedDialog,
    CorrelatedTransaction,
    Correlator,
    MediaSession,
    MediaStream,
)

__all__ = [
    "CorrelatedCall",
    "CorrelatedDialog",
    "CorrelatedTransaction",
    "Correlator",
    "MediaSession",
    "MediaStream",
]

"""Channels: what reaches the hub beside kdump, made into kernel-log text and crash cuts (pure).

netconsole: UDP datagrams of one sender to printk records, in order, with gaps found, and the
crashes cut out of the stream (``crashhub.ingest`` owns the socket and hands the cuts to ingest).
"""

from crashhub._face import face

TYPE_CHECKING = False  # not typing's: importing typing is not free on the CLI's fast paths
if TYPE_CHECKING:
    from crashhub.channels._netconsole import Record as Record
    from crashhub.channels._netconsole import parse_header as parse_header
    from crashhub.channels._netconsole import unescape as unescape
    from crashhub.channels._stream import Cut as Cut
    from crashhub.channels._stream import NetconsoleCrash as NetconsoleCrash
    from crashhub.channels._stream import Stream as Stream
    from crashhub.channels._stream import StreamLimits as StreamLimits
    from crashhub.channels._stream import judge as judge
    from crashhub.errors import DatagramError as DatagramError

_FACE: dict[str, str] = {
    "Record": "crashhub.channels._netconsole",
    "DatagramError": "crashhub.errors",
    "parse_header": "crashhub.channels._netconsole",
    "unescape": "crashhub.channels._netconsole",
    "Cut": "crashhub.channels._stream",
    "NetconsoleCrash": "crashhub.channels._stream",
    "Stream": "crashhub.channels._stream",
    "StreamLimits": "crashhub.channels._stream",
    "judge": "crashhub.channels._stream",
}
__all__ = [
    "Cut",
    "DatagramError",
    "NetconsoleCrash",
    "Record",
    "Stream",
    "StreamLimits",
    "judge",
    "parse_header",
    "unescape",
]

__getattr__ = face(globals(), _FACE)

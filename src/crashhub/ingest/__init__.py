"""ingest."""

from crashhub._face import face

# The public face (as httpx does): the names other parts use, loaded on first use so that importing
# crashhub.ingest stays cheap and free of import cycles; the modules behind it are private (_x).
TYPE_CHECKING = False  # not typing's: importing typing is not free on the CLI's fast paths
if TYPE_CHECKING:
    from crashhub.ingest._arrival import CHANNELS as CHANNELS
    from crashhub.ingest._arrival import Arrival as Arrival
    from crashhub.ingest._arrival import Channel as Channel
    from crashhub.ingest._arrival import Outcome as Outcome
    from crashhub.ingest._arrival import Pipeline as Pipeline
    from crashhub.ingest._layouts import looks_like_kernel_log as looks_like_kernel_log
    from crashhub.ingest._layouts import parse_dir_name as parse_dir_name
    from crashhub.ingest._matching import same_host as same_host
    from crashhub.ingest._netconsole import NetconsoleReceiver as NetconsoleReceiver
    from crashhub.ingest._peers import peer_ip as peer_ip
    from crashhub.ingest._reports import crash_reports as crash_reports
    from crashhub.ingest._reports import panic_line as panic_line
    from crashhub.ingest._spool import SpoolWatcher as SpoolWatcher
    from crashhub.ingest._spool import ingest_path as ingest_path
    from crashhub.ingest._uploads import PIECE as PIECE
    from crashhub.ingest._uploads import Uploads as Uploads
    from crashhub.ingest._uploads import expire_uploads as expire_uploads

_FACE: dict[str, str] = {
    "Arrival": "crashhub.ingest._arrival",
    "CHANNELS": "crashhub.ingest._arrival",
    "Channel": "crashhub.ingest._arrival",
    "NetconsoleReceiver": "crashhub.ingest._netconsole",
    "Outcome": "crashhub.ingest._arrival",
    "PIECE": "crashhub.ingest._uploads",
    "Pipeline": "crashhub.ingest._arrival",
    "SpoolWatcher": "crashhub.ingest._spool",
    "Uploads": "crashhub.ingest._uploads",
    "expire_uploads": "crashhub.ingest._uploads",
    "ingest_path": "crashhub.ingest._spool",
    "looks_like_kernel_log": "crashhub.ingest._layouts",
    "parse_dir_name": "crashhub.ingest._layouts",
    "peer_ip": "crashhub.ingest._peers",
    "same_host": "crashhub.ingest._matching",
    "crash_reports": "crashhub.ingest._reports",
    "panic_line": "crashhub.ingest._reports",
}
__all__ = [
    "CHANNELS",
    "PIECE",
    "Arrival",
    "Channel",
    "NetconsoleReceiver",
    "Outcome",
    "Pipeline",
    "SpoolWatcher",
    "Uploads",
    "crash_reports",
    "expire_uploads",
    "ingest_path",
    "looks_like_kernel_log",
    "panic_line",
    "parse_dir_name",
    "peer_ip",
    "same_host",
]


__getattr__ = face(globals(), _FACE)

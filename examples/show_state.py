"""Print the live state of every memif interface: <get> with a subtree filter."""

from _connect import NS, connect, parser

args = parser(__doc__).parse_args()
FILTER = f'<memif xmlns="{NS}"><interface><socket-id/><id/><state/></interface></memif>'


def leaf(el, path: str) -> str:
    return el.findtext("/".join(f"{{{NS}}}{step}" for step in path.split("/")), "")


with connect(args) as m:
    data = m.get(filter=("subtree", FILTER)).data
    for itf in data.iterfind(f".//{{{NS}}}interface"):
        st = itf.find(f"{{{NS}}}state")
        print(
            f"{leaf(st, 'name'):16} link {leaf(st, 'link-status'):5} "
            f"{leaf(st, 'connection-state'):11} peer {leaf(st, 'remote-name') or '-'} "
            f"rx {leaf(st, 'counters/rx-packets') or 0} tx {leaf(st, 'counters/tx-packets') or 0}"
        )

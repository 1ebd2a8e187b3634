"""Confirmed commit: apply a change that rolls itself back unless confirmed.

Disables memif23/100 with a 5 s confirm timeout and does not confirm, so the
agent restores the previous configuration; pass --confirm to keep it."""

import time

from _connect import NS, connect, parser

ap = parser(__doc__)
ap.add_argument("--timeout", type=int, default=5)
ap.add_argument("--confirm", action="store_true")
args = ap.parse_args()

CHANGE = f"""<config><memif xmlns="{NS}"><interface><socket-id>23</socket-id><id>100</id>
  <enabled>false</enabled></interface></memif></config>"""


def enabled(m) -> str:
    d = m.get_config("running", filter=("subtree", f'<memif xmlns="{NS}"/>')).data
    return d.findtext(f".//{{{NS}}}interface/{{{NS}}}enabled", "false")


with connect(args) as m:
    m.edit_config(target="candidate", config=CHANGE)
    m.commit(confirmed=True, timeout=str(args.timeout))
    print("after confirmed commit: enabled =", enabled(m))
    if args.confirm:
        m.commit()
        print("confirmed")
    else:
        time.sleep(args.timeout + 1)
        print("after the timeout: enabled =", enabled(m))

"""Subscribe to notifications and print memif link events as they happen."""

from _connect import NS, connect, parser
from lxml import etree

ap = parser(__doc__)
ap.add_argument("--count", type=int, default=0, help="stop after this many events (0: never)")
args = ap.parse_args()

with connect(args) as m:
    m.create_subscription(filter=("subtree", f'<link-state-change xmlns="{NS}"/>'))
    print("subscribed", flush=True)
    seen = 0
    while not args.count or seen < args.count:
        n = m.take_notification(block=True, timeout=1)
        if n is None:
            continue
        ev = etree.fromstring(n.notification_xml.encode()).find(f"{{{NS}}}link-state-change")
        if ev is None:
            continue
        print(
            ev.findtext(f"{{{NS}}}name"),
            ev.findtext(f"{{{NS}}}link-status"),
            ev.findtext(f"{{{NS}}}reason"),
            flush=True,
        )
        seen += 1

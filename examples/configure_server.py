"""Create memif socket 23 (/tmp/memif23.sock) and server interface 100 on it,
enabled, and commit: a memif peer can then connect as client with id 100."""

from _connect import NS, connect, parser

ap = parser(__doc__)
ap.add_argument("--socket-id", type=int, default=23)
ap.add_argument("--filename", default="/tmp/memif23.sock")
ap.add_argument("--interface-id", type=int, default=100)
args = ap.parse_args()

with connect(args) as m:
    m.edit_config(
        target="candidate",
        config=f"""
      <config><memif xmlns="{NS}">
        <socket><id>{args.socket_id}</id><filename>{args.filename}</filename></socket>
        <interface>
          <socket-id>{args.socket_id}</socket-id><id>{args.interface_id}</id>
          <role>server</role><enabled>true</enabled>
        </interface>
      </memif></config>""",
    )
    m.commit()
    print(f"committed memif{args.socket_id}/{args.interface_id} on {args.filename}")

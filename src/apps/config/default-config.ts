/** Written on first start when no config file exists. Every key is optional. */
export const DEFAULT_CONFIG_YAML = `# mailtrail configuration. Every key is optional; the values below are the defaults.
# Durations: 250ms, 30s, 5m, 4h, 4d12h. Relative paths are relative to this file.

# Event log (events.db), read models (projections.db) and the generated TLS certificate.
dataDir: ./data

# The event log: the embedded SQLite store under dataDir (one node), or an EventStoreDB /
# KurrentDB cluster, e.g. { kind: esdb, connectionString: "esdb://db1:2113,db2:2113,db3:2113",
# blobMaxAge: 7d }. Read models stay in SQLite under dataDir either way. See docs/scale-out.md.
# SQLite may name its file elsewhere: { kind: sqlite, path: /srv/mailtrail/events.db }.
store: { kind: sqlite }

# Our name in the SMTP banner and in Received: headers. Defaults to the machine's hostname.
# Also this node's name in a cluster: unique per node.
# hostname: relay.example.com

# Several nodes on one event log (EventStoreDB, or one SQLite file on one machine) share the
# delivery: each owns some of the 64 message partitions and heartbeats; a node silent for
# longer than the lease loses its share to the others. Each site's limits are divided among
# the live nodes. Off: this node delivers everything. See docs/scale-out.md.
cluster:
  enabled: false
  heartbeat: 5s
  lease: 30s

log:
  level: info        # fatal | error | warn | info | debug | trace | silent

smtp:
  # Submission listener: STARTTLS, then AUTH PLAIN/LOGIN. Ports below 1024 need root or
  # CAP_NET_BIND_SERVICE.
  listen: 0.0.0.0:587
  # Networks that may relay without AUTH, like Postfix's mynetworks. Empty: everyone
  # must authenticate. Example: ["127.0.0.1/32", "::1/128"]
  trustedNetworks: []
  # Bare CR, bare LF and NUL in message content (SMTP smuggling). normalize rewrites them
  # to CRLF (Postfix >= 3.9's default behaviour); reject refuses the message (550 5.6.0).
  bareLineEndings: normalize
  maxMessageSize: 26214400   # octets, advertised as SIZE
  maxRecipients: 1000        # per transaction; the one after gets 452 4.5.3
  maxLineLength: 998         # octets per line (RFC 5321), CRLF excluded
  maxHeaderSize: 262144      # octets of header section (HTTP too); over it: 552 5.3.4
  maxHeaderFields: 1000      # header fields per message; over it: 552 5.3.4
  maxClients: 1000
  maxClientsPerAddress: 50   # connections at once from one address (trusted networks exempt)
  # Refusals in one session, as Postfix's smtpd_soft/hard_error_limit: past soft, each one
  # is answered sleep late; past hard, 421 4.7.0 and the connection closes.
  errorLimits: { soft: 10, hard: 20, sleep: 1s }
  maxAuthFailures: 3         # per connection; then 421 4.7.0 and the connection closes
  authFailureDelay: 1s       # each failure's reply waits this much more than the last
  # Failed AUTH across connections. An address past its count is refused at connect
  # (421 4.7.0) for the ban; a username past its count gets 454 4.7.0 at AUTH for the ban,
  # except from the credential's own allowed networks. Trusted networks are never counted.
  authBans:
    address: { failures: 10, within: 10m, ban: 30m }
    username: { failures: 30, within: 10m, ban: 10m }
  socketTimeout: 5m          # idle: no byte for this long
  # Absolute deadlines, which a client trickling bytes cannot stretch (slowloris): one
  # command line, one message (354 to the final dot), one connection. Then 421 4.4.2.
  commandDeadline: 5m
  dataDeadline: 10m
  sessionDeadline: 30m
  # Wait before the 220 greeting, to catch clients that talk first (spam bots). 0s suits a
  # submission port; smtp-server's own default is 100ms.
  greetingDelay: 0s
  # PEM files. When unset, a self-signed certificate is generated under dataDir/tls.
  # tls: { key: /etc/mailtrail/tls/key.pem, cert: /etc/mailtrail/tls/cert.pem }
  tls: {}

http:
  listen: 127.0.0.1:8025     # status, the sending APIs, tracking, unsubscribe, event streams
  streamToken: null          # bearer token for /v1/streams that sees all mail (data teams)
  trustedProxies: []         # reverse proxies whose X-Forwarded-For names the client, e.g. ["127.0.0.1/32"]
  maxBatchBytes: 268435456   # what one API request may store (a batch is one message per recipient): 413 past it

dns:
  # Resolvers for MX, A and AAAA lookups, with optional ports. Empty: the system's.
  servers: []                # e.g. ["127.0.0.1:5353"]
  timeout: 5s

# Per-domain routes, looked up before DNS. "[host]:port" connects there directly;
# "domain:port" uses that domain's MX. "*" matches every domain (a smarthost).
routes: {}
#  example.com: "[127.0.0.1]:2526"
#  "*": "[smarthost.example.net]:587"

delivery:
  port: 25
  # ehloName: relay.example.com   # defaults to hostname
  # sourceAddress: 192.0.2.10     # local address for outbound connections
  blockLocalAddresses: true  # refuse MX hosts on loopback and private networks
  maxConnectionsPerDomain: 20
  maxMessagesPerConnection: 100
  maxInFlight: 500           # deliveries under way at once, all domains together
  connectTimeout: 30s
  idleTimeout: 5s            # an idle outbound connection is closed after this
  replyTimeout: 10m          # for any reply (RFC 5321: 10 minutes after the final dot)
  stopGrace: 10s             # a stop waits this long for attempts under way, then drops them
  mtaSts: true               # honour recipient domains' MTA-STS policies (RFC 8461)
  caFiles: []                # PEM files of CAs trusted besides Node's (MX and policy hosts)

queue:
  # Waits after the 1st, 2nd, ... failed attempt; the last one repeats.
  retry: [5m, 10m, 20m, 40m, 1h, 2h, 4h]
  retryJitter: 0.1           # waits are stretched by up to 10%, never shortened
  maxAge: 4d12h              # then the recipient bounces as expired

egress:
  sources: {}                # name: { address: 203.0.113.10, ehlo: mta1.example.net }
  pools: {}                  # name: { mta1: 2, mta2: 1 }  (weights)
  defaultPool: null          # pool for mail whose credential and headers name none

shaping:
  files: []                  # per-ISP rules layered over the built-in providers (shaping explain)

bounces:
  files: []                  # bounce rules tried before the built-in ones (bounces classify)
  listen: "0.0.0.0:25"       # DSNs and complaint reports for bounces.<domain>; null: off
  # fallbackDomain: bounces.<hostname>   # return path for senders not onboarded; null: theirs

unsubscribe:
  baseUrl: null              # https://mail.example.com/unsubscribe: one-click links on bulk mail

tracking:
  baseUrl: null              # https://track.example.com/t: open pixel and click redirects (HTTP APIs)

webhooks:
  # Waits after the 1st, 2nd, ... failed attempt (Mailgun's schedule); then dead-lettered.
  retry: [10m, 10m, 15m, 30m, 1h, 2h, 4h]
  timeout: 10s               # an endpoint that has not answered by then failed this attempt
  maxInFlight: 64            # requests at once, in all
  perEndpoint: 4             # requests at once to one endpoint: a slow one holds only these

limits:
  # Rolling volume caps per credential, by name; "*" for every credential (its own entry
  # wins, measure by measure). Past one: SMTP 451 4.7.1 (452 at RCPT), HTTP 429.
  # Example: { "*": { hour: { messages: 10000 }, day: { recipients: 200000 } } }
  credentials: {}

anomalies:
  # Each credential's last hour against its own past, every interval: a volume spike, a
  # bounce rate far above its usual, a sending domain it never used. Each is recorded
  # (CredentialAnomalyDetected), logged, optionally POSTed and optionally pauses it.
  enabled: true
  interval: 1m
  spikeFactor: 10            # the last hour over its average hour of the week before...
  minMessages: 500           # ...with at least this many messages in the hour
  minHistory: 24h            # younger credentials have no baseline yet
  bounceRate: 0.1            # an hourly bounce rate at least this...
  bounceFactor: 3            # ...and this many times its usual rate
  minOutcomes: 100           # delivered + bounced in the hour before a rate counts
  newDomains: true
  pause: false               # pause the credential (4xx until \`credentials resume\`)
  webhook: null              # e.g. https://alerts.example.com/mailtrail: JSON POST per anomaly
  cooldown: 6h               # the same anomaly of a credential is reported once per this

dkim:
  enabled: true              # sign mail for onboarded domains (mailtrail domains add)
  operatorDomain: null       # also sign everything with this onboarded domain
  signerThreads: null        # threads that sign; null: one per core beyond the first, up to 4
  retiredKeyGrace: 7d        # how long old keys keep verifying before domains prune

domains:
  returnPathPrefix: bounces  # bounces.<domain> is the return-path domain
  egressAddresses: []        # outbound IPs, for the SPF records mailtrail suggests
`;

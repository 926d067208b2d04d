-- mod_xs_route: a test Prosody's outgoing server-to-server connections go
-- to fixed loopback addresses instead of where DNS would send them.
--
-- Prosody 0.12's mod_s2s asks net.resolvers.service for each new outgoing
-- connection: SRV _xmpps-server._tcp.DOMAIN (direct TLS, XEP-0368), then
-- SRV _xmpp-server._tcp.DOMAIN, then A/AAAA of DOMAIN on port 5269. The
-- lookups go to the nameservers of /etc/resolv.conf (net.dns, without
-- lua-unbound) or to libunbound (which Prosody sets up with hoststxt off);
-- neither reads /etc/hosts, and even an entry there could not name a
-- port. 0.12 has no option naming a target for a domain. mod_s2s calls
-- service.new() each time it connects, so replacing that one function of
-- the shared module table is enough:
--
--   xs_route = { ["b.test"] = { "127.0.0.1", 5270 } }   -- global section
--
-- A listed domain and its subdomains (proxy.b.test) connect to that address
-- and port, with STARTTLS as usual. Every other remote domain fails at once
-- (remote-server-not-found) and no DNS query leaves the machine.
module:set_global();

local service = require "net.resolvers.service";
local manual = require "net.resolvers.manual";

local routes = module:get_option("xs_route", {});
local dns_new = service.new;

local function route_of(domain)
	while domain do
		if routes[domain] then
			return routes[domain];
		end
		domain = domain:match("^[^.]+%.(.+)$");
	end
	return nil;
end

service.new = function (hostname, service_name, conn_type, extra)
	if service_name ~= "xmpp-server" and service_name ~= "xmpps-server" then
		return dns_new(hostname, service_name, conn_type, extra);
	end
	local to = route_of(hostname);
	if not to or service_name == "xmpps-server" then
		if not to and service_name == "xmpp-server" then
			module:log("warn", "no route to %s: not connecting", hostname);
		end
		return manual.new({}, conn_type, extra);
	end
	module:log("debug", "s2s to %s goes to %s:%d", hostname, to[1], to[2]);
	local family = to[1]:find(":", 1, true) and "tcp6" or "tcp4";
	return manual.new({ { family, to[1], to[2], extra } }, conn_type, extra);
end

function module.unload()
	service.new = dns_new;
end

/*
 * factory - the DNS the configuration asks for: a static zone file
 * (dns_zone_file) or libunbound.
 */
#include "dns/backend.h"

#include "conf/conf.h"

struct mp_dns *mp_dns_new(const struct mp_conf *conf, struct mp_diags *d)
{
	if (conf->dns_zone_file != NULL)
		return mp_dns_new_zone(conf->dns_zone_file, d);
	return mp_dns_new_unbound(conf, d);
}

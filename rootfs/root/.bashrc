# Interactive bash that is not a login shell reads only this file: share /etc/profile.
. /etc/profile

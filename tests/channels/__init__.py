"""Each connector over its real wire format, against local fake protocol servers."""

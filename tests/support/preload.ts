// Loaded before every test file (bunfig.toml). Loopback must never go through a proxy from
// the environment, or tests would talk to it instead of the fake sources.
process.env.NO_PROXY = "127.0.0.1,localhost,::1";
process.env.no_proxy = process.env.NO_PROXY;

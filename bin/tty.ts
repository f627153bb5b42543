// Evaluated before citty loads: citty decides on colours once, from the environment only, so
// piped help (`recsys --help | less`, tests) would otherwise carry escape codes.
if (!process.stdout.isTTY && process.env.NO_COLOR === undefined && process.env.FORCE_COLOR === undefined) process.env.NO_COLOR = "1";

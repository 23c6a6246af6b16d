//! rft-edge: the Function URL behind every link, API call and webhook. (Wired in issue 3.)

fn main() {}

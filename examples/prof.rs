use rollcall::criteria::wire::parse_request;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let e = rollcall::directory::Engine::open(&args[1]).unwrap();
    let inst = e.instance("bench").unwrap();
    let s = parse_request(&args[2]).unwrap().lower().unwrap();
    let n: usize = args[3].parse().unwrap();
    let t = std::time::Instant::now();
    let mut tot = 0;
    for _ in 0..n {
        tot += inst.search(&s).unwrap().users.len();
    }
    eprintln!("{:?} per query ({tot})", t.elapsed() / n as u32);
}

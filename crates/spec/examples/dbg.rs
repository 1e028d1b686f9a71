fn main() {
    let p = std::env::args().nth(1).unwrap();
    match secmon_spec::Spec::from_file(std::path::Path::new(&p)) {
        Ok(s) => println!("OK {:?}", s.warnings),
        Err(e) => println!("{e}\n{:?}", e.diagnostics()),
    }
}

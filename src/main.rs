fn main() {
    println!("underhood: under construction");
}

fn main() {
    eventrail_build::lambda_binary();
}

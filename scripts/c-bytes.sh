# c-bytes.sh: sourced by the embed scripts. c_bytes NAME FILE prints FILE as a C array
# `static const unsigned char NAME[]` with a NUL appended (Lua chunks ignore it; docs
# are read as C strings).
c_bytes() {
  echo "static const unsigned char $1[] = {"
  od -An -v -tx1 "$2" | sed -e 's/ *$//' -e 's/  */,0x/g' -e 's/^,//' -e 's/$/,/'
  echo "0};"
}

# The chart of BENCHMARKS.md (make bench): APDUs and time per operation, OpenSC
# beside jpki-pkcs11. Data: bench/chart.dat, written by bench/run.
#   gnuplot bench/chart.gp   (from the repository root) -> bench/chart.svg
set terminal svg size 960,720 dynamic font "sans,12" background rgb "white"
set output "bench/chart.svg"
set datafile separator "\t"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside top center horizontal
set grid ytics
set xtics nomirror scale 0
set multiplot layout 2,1 title "OpenSC vs jpki-pkcs11 on a virtual My Number Card (make bench)"
set title "APDUs per operation (fewer is better)"
set ylabel "APDUs"
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
plot "bench/chart.dat" using 2:xtic(1) title "OpenSC" lc rgb "#c0504d", \
     "" using 3 title "jpki-pkcs11" lc rgb "#4f81bd", \
     "" using 0:2:2 with labels offset -1.6,0.6 notitle, \
     "" using 0:3:3 with labels offset 1.6,0.6 notitle
set title "Time per operation with 20 ms per APDU (median, ms)"
set ylabel "ms"
plot "bench/chart.dat" using 4:xtic(1) title "OpenSC" lc rgb "#c0504d", \
     "" using 5 title "jpki-pkcs11" lc rgb "#4f81bd", \
     "" using ($0):4:(sprintf("%.0f", $4)) with labels offset -1.6,0.6 notitle, \
     "" using ($0):5:(sprintf("%.0f", $5)) with labels offset 1.6,0.6 notitle
unset multiplot

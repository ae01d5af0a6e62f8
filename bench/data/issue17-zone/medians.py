import sys,re,statistics as st
for f in sys.argv[1:]:
    d={}
    for line in open(f):
        m=re.match(r"round=(\d+) cmd=(\S+) (\w+) cpu_us_per_op=([\d.]+) rps=([\d.]+)",line)
        if not m: continue
        r,c,w,cpu,rps=m.groups(); d.setdefault(c,{}).setdefault(w,{})[int(r)]=(float(cpu),float(rps))
    for c,ws in d.items():
        b=ws['base'];h=ws.get('head',{})
        rs=[r for r in b if r in h]
        diffs=[h[r][0]-b[r][0] for r in rs]
        print(f,c,len(rs),"rounds: cpu µs/op base %.1f head %.1f, paired head-base %+.1f | ops/s base %.0f head %.0f"%(st.median(b[r][0] for r in rs),st.median(h[r][0] for r in rs),st.median(diffs),st.median(b[r][1] for r in rs),st.median(h[r][1] for r in rs)))

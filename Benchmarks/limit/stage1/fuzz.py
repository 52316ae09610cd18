import ctypes, json, random
lib = ctypes.CDLL('/tmp/reader-flat.so')
f = lib.sluice_flat_object
f.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p]
f.restype = ctypes.c_int
def pyok(b):
    try:
        pairs = json.loads(b.decode('utf-8'), object_pairs_hook=lambda p: p)
    except Exception:
        return None
    if not isinstance(pairs, list): return None
    keys = [k for k, v in pairs]
    if len(set(keys)) != len(keys): return None
    if any(isinstance(v, (list, dict)) or (isinstance(v, list)) for k, v in pairs): return None
    return len(pairs)
random.seed(1)
lines = open('/tmp/e200k.jsonl','rb').read().split(b'\n')[:20000]
alphabet = b'{}[]:,"\\ \t-+.eE0123456789tfnulrsa\x01\x80\xc3'
acc = 0; bad = 0; n = 0
for line in lines:
    if not line: continue
    for t in range(8):
        b = bytearray(line)
        if t:
            for _ in range(random.randint(1,3)):
                op = random.randrange(3); i = random.randrange(len(b)+1)
                c = alphabet[random.randrange(len(alphabet))]
                if op == 0 and i < len(b): b[i] = c
                elif op == 1: b.insert(i, c)
                elif i < len(b): del b[i]
        b = bytes(b)
        r = f(b, len(b), None)
        n += 1
        if r >= 0:
            acc += 1
            p = pyok(b)
            if p != r:
                bad += 1
                if bad < 10: print('MISMATCH', r, p, b)
print(n, acc, bad)
# extra cases
for s in [b'{}', b'{ }', b'{"a":1,"a":2}', b'{"abcdefghij":1,"abcdefghij":2}', b'{"abcdefghXj":1,"abcdefghij":2}', b'{"a":-0}', b'{"a":01}', b'{"a":1.}', b'{"a":1e5}', b'{"a" : "x" , "b" : true }', b'{"":1,"":2}', b'{"":1}', b'{"a":[1]}', b'{"a":tru}', b'{"a":nul}', b'{"a":"x"}x', b'{"a":1}}']:
    print(s, f(s, len(s), None), pyok(s))
toks = [b'{', b'}', b'"a"', b'"bb"', b'""', b':', b',', b'1', b'-0.5', b'"x:y,{}"', b'true', b'null', b'false', b'[', b']', b' ', b'"', b'0', b'12', b'"abcdefghijklmnopqrstuvwxyz0123456789"', b'.', b'-']
bad = 0; acc = 0
for t in range(300000):
    k = random.randint(1, 30)
    b = b'{' + b''.join(random.choice(toks) for _ in range(k)) + b'}'
    r = f(b, len(b), None)
    if r >= 0:
        acc += 1
        if pyok(b) != r:
            bad += 1
            if bad < 10: print('MISMATCH2', r, pyok(b), b)
print('grammar fuzz', acc, bad)
# completeness: valid compact flat objects up to 128 bytes are accepted
miss = 0; tot = 0
for t in range(100000):
    mem = []
    for j in range(random.randint(0, 8)):
        key = ''.join(random.choice('abcxyz_:,{}') for _ in range(random.randint(0, 12)))
        val = random.choice(['1', '-0', '0.25', '"s"', '""', 'true', 'false', 'null', '"' + 'q' * random.randint(0, 40) + '"', '123456789'])
        mem.append('"%s":%s' % (key, val))
    b = ('{' + ','.join(mem) + '}').encode()
    p = pyok(b)
    if p is None or len(b) > 128: continue
    tot += 1
    r = f(b, len(b), None)
    if r != p:
        miss += 1
        if miss < 5: print('MISS', r, p, b)
print('complete', tot, miss)
